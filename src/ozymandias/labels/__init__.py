"""Labels on jobs and nodes, and the `-l` selectors that pick objects by them."""
