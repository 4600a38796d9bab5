print("store")
