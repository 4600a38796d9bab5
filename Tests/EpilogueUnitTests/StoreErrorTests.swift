import EpilogueCompression
import EpilogueModel
import EpilogueProtocol
import EpilogueShared
import EpilogueTestSupport
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// Which side a failure is blamed on, and that no failure reads "Success".
@Suite struct StoreErrorTests {
    struct Opaque: Error, CustomStringConvertible {
        var description: String { "opaque failure" }
    }

    @Test func aSystemCallFailingWithoutErrnoIsNotReportedAsErrnoZero() {
        let error = StorageError.fromErrno("read", "/data/records.log", 0)
        #expect(error == .failed(operation: "read", path: "/data/records.log", reason: "failed without an error code"))
        #expect(!error.description.contains("Success"))
    }

    @Test func anUnknownErrorBecomesAFailureNamingIt() {
        let error = StorageError(Opaque(), operation: "write", path: "/data/records.log")
        #expect(error.description == "write /data/records.log: opaque failure")
        #expect(StorageError(StorageError.full, operation: "write", path: "/x") == .full)
        #expect(StoreError.storage(error).code == .internalError)
    }

    @Test func aCompressionFailureIsTheServersFaultNotABadRequest() {
        #expect {
            _ = try RecordStore.pack(id: "a", TestSupport.content(), compress: { _ in throw Opaque() })
        } throws: { error in
            guard let error = error as? StoreError, case .internalFault(let message) = error else { return false }
            return error.code == .internalError && message.contains("opaque failure")
        }
    }

    @Test func anInvalidRecordIsStillTheClientsFault() {
        var content = TestSupport.content()
        content.film = " "
        #expect {
            _ = try RecordStore.pack(id: "a", content, compress: { _ in throw Opaque() })
        } throws: { error in
            (error as? StoreError)?.code == .invalidRecord
        }
    }
}
