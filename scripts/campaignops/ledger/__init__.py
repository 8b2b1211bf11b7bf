"""The ledger (campaigns/<name>/ledger.yaml): records.py the values, store.py the file, merge.py two versions."""
