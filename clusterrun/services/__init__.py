"""Services: take a request, orchestrate the domain, return typed results; never print."""
