"""Image stores."""
