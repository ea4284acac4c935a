"""The CLI's error for a wrong command line or missing input: printed, exit status 2.

Its own module so that commands defined outside api/cli.py raise the very class main()
catches, also when clipdex runs as `python -m api.cli` (which loads cli.py twice)."""


class UsageError(Exception):
    pass
