"""Dataset artifacts shared by the builders, the trainer and the evaluators: records and shards."""
