"""Swift's API features over the proxy, each as its middleware does it:
TempURL and FormPost (access without a token), static and dynamic large
objects, object versioning and bulk delete."""
