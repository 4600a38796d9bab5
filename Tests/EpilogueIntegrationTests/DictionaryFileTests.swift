import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct DictionaryFileTests {
    @Test func fileRoundTripsAndLoadsByID() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let file = DictionaryFile(id: 1000, trainedOn: 1234, bytes: Array("some dictionary text".utf8))
        try file.write(to: dir)
        #expect(try DictionaryFile.loadAll(from: dir) == [file])
        #expect(!FileManager.default.fileExists(atPath: dir + "/dictionary-1000.zdict.tmp"))
    }

    @Test func leftoverTempFileOfAnInterruptedWriteIsRemovedNotLoaded() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let half = Array(DictionaryFile(id: 1000, trainedOn: 1, bytes: [1, 2, 3]).encoded().prefix(10))
        #expect(FileManager.default.createFile(atPath: dir + "/dictionary-1000.zdict.tmp", contents: Data(half)))
        #expect(try DictionaryFile.loadAll(from: dir).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir + "/dictionary-1000.zdict.tmp"))
    }

    @Test func damagedFileIsAnErrorNamingIt() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        var bytes = DictionaryFile(id: 1000, trainedOn: 1, bytes: Array("dictionary".utf8)).encoded()
        bytes[bytes.count - 6] ^= 0x20
        #expect(FileManager.default.createFile(atPath: dir + "/dictionary-1000.zdict", contents: Data(bytes)))
        #expect(throws: StorageError.corruptDictionary(path: dir + "/dictionary-1000.zdict", reason: "checksum mismatch")) {
            try DictionaryFile.loadAll(from: dir)
        }
    }
}
