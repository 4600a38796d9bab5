/// Keeps the `limit` best hits seen (lowest score, then lowest doc id) in a binary heap whose
/// root is the worst of them.
struct TopHits {
    let limit: Int
    private var heap: [RankedDocument] = []

    init(limit: Int) { self.limit = limit }

    private static func worse(_ a: RankedDocument, _ b: RankedDocument) -> Bool {
        a.score != b.score ? a.score > b.score : a.docID > b.docID
    }

    mutating func offer(_ hit: RankedDocument) {
        if heap.count < limit {
            heap.append(hit)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.worse(heap[child], heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        } else if Self.worse(heap[0], hit) {
            heap[0] = hit
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var worst = parent
                if left < heap.count && Self.worse(heap[left], heap[worst]) { worst = left }
                if right < heap.count && Self.worse(heap[right], heap[worst]) { worst = right }
                if worst == parent { break }
                heap.swapAt(parent, worst)
                parent = worst
            }
        }
    }

    /// Once full, the score (positive, FTS5's negated) a new hit must at least have to enter;
    /// nil while there is room.
    var leastScoreToEnter: Double? { heap.count == limit ? -heap[0].score : nil }

    func sorted() -> [RankedDocument] {
        heap.sorted { Self.worse($1, $0) }
    }
}
