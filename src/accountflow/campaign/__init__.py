"""The account-based campaign engine (the campaigns issue fills this)."""
