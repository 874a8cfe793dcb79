"""Resource types: what each template ``type`` does through the other
services' public APIs."""
