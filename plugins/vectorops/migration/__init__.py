"""The migration pipeline: requests, targets, claims, the steps, promotion and summaries."""
