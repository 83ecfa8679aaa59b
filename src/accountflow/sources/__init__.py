"""Outside sources for account research: fetched with hard safety and size limits, kept as data."""
