"""Business operations; each public entry point owns its transaction."""
