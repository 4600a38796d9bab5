/// The `count` smallest strings of a stream, kept sorted: one pass, and a binary insertion only
/// for a string that beats the current last. FIND's page of a large match set costs a scan of
/// ids, not a sort of all of them.
struct FirstInOrder {
    let count: Int
    private(set) var smallest: [String] = []

    init(count: Int) {
        self.count = count
        smallest.reserveCapacity(min(count, 1_024))
    }

    mutating func offer(_ id: String) {
        guard count > 0 else { return }
        if smallest.count == count {
            guard id < smallest[count - 1] else { return }
            smallest.removeLast()
        }
        var low = 0, high = smallest.count
        while low < high {
            let middle = (low + high) / 2
            if smallest[middle] < id { low = middle + 1 } else { high = middle }
        }
        smallest.insert(id, at: low)
    }
}
