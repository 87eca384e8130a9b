"""A Nation Stack deployment: national digital public infrastructure services."""
