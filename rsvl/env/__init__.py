"""Environment set-up that rsvl owns: the torchvision remedy and the install checks."""
