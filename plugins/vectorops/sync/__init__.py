"""Live sync: bring migrated tables up to date with what was written to Chroma since their read point."""
