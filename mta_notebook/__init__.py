"""mta-notebook."""
