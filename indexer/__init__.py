"""The collection side of clipdex: folders, files, metadata rows, building and updating indexes."""
