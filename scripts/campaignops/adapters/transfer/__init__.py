"""Transfer adapters: datasets moved between sites' Butlers, Butler-to-Butler or through Rucio."""
