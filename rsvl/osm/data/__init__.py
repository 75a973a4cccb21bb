"""Reviewed data files of rsvl.osm (a package so that wheels ship its *.json)."""
