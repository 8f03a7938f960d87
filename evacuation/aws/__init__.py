"""The only package that talks to AWS (besides the DynamoDB state store). One module per service."""
