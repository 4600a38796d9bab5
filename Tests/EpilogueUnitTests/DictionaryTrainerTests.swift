import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct DictionaryTrainerTests {
    @Test func sameSamplesGiveTheSameDictionary() throws {
        let samples = try datasetBodies().training
        #expect(DictionaryTrainer().train(samples) == DictionaryTrainer().train(samples))
    }

    @Test func dictionaryFitsZlibsWindowAndTheRequestedCapacity() throws {
        let bodies = try datasetBodies()
        var many: [[UInt8]] = []
        for round in 0..<20 { many += bodies.training.map { $0 + Array("variant \(round)".utf8) } }
        #expect(DictionaryTrainer().train(many).count <= 32 * 1024)
        #expect(DictionaryTrainer(capacity: 1000, segmentLength: 100).train(many).count <= 1000)
        #expect(DictionaryTrainer().train([]).isEmpty)
    }

    @Test func trainedDictionaryCompressesUnseenRecordsBetterThanNone() throws {
        let bodies = try datasetBodies()
        let dictionary = DictionaryTrainer().train(bodies.training)
        #expect(!dictionary.isEmpty)
        var plain = 0, trained = 0
        for body in bodies.held {
            plain += try Zlib.compress(body, level: 9).count
            let packed = try Zlib.compress(body, dictionary: dictionary, level: 9)
            trained += packed.count
            #expect(try Zlib.decompress(packed, dictionary: dictionary) == body)
        }
        #expect(trained < plain)
    }

    @Test func policyTrainsFirstAtTheThresholdThenAtEachTenfoldGrowthUntilTheCap() {
        let policy = DictionaryPolicy(firstAt: 1_000, growth: 10, stopAfter: 100_000)
        #expect(!policy.isDue(liveRecords: 999, trainedOn: 0))
        #expect(policy.isDue(liveRecords: 1_000, trainedOn: 0))
        #expect(!policy.isDue(liveRecords: 9_999, trainedOn: 1_000))
        #expect(policy.isDue(liveRecords: 10_000, trainedOn: 1_000))
        #expect(!policy.isDue(liveRecords: 10_000_000, trainedOn: 100_000))
    }
}
