"""The model side of clipdex: pixels and words in, vectors and answers out.

Knows no database, no folders and no HTTP.
"""
