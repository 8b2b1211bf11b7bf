"""The ledger (campaigns/<name>/ledger/): records.py the values, codec.py their text, store.py the files,
merge.py two versions, history.py the timeline."""
