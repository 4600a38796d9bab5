import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// Bodies of the bundled dataset's records: real prose, split into a training and a held-out half.
func datasetBodies() throws -> (training: [[UInt8]], held: [[UInt8]]) {
    let bodies = try BundledDataset.load().map { RecordBody.bytes(of: $0.content) }
    let training = bodies.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
    let held = bodies.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
    return (training, held)
}
