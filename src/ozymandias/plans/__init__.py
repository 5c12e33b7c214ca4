"""What `ozy plan` shows (pure): a job in its user's notation, the diff of two versions, and
what a plan does to each instance."""
