"""One module per dataset: the real download and the offline default, same layout."""
