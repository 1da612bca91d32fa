"""Caption data: sources in standard layouts, the synthetic set, the preprocessed cache, the loader."""
