"""GitHub: the REST client, failure issues as GitHub issues, the sticky plan comment of a pull request."""
