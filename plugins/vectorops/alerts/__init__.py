"""Alert events and their delivery."""
