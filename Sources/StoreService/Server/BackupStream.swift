import EpilogueStorage
import EpilogueProtocol
import NIOCore

/// A BACKUP being sent (owned by the connection handler, like `ExportStream`): the storage's
/// `BackupReader` pieces as frames, BACKUP_CHUNK while the stream continues, then BACKUP_END (or
/// ERROR INTERNAL_ERROR when the backup could not be read).
struct BackupStream {
    let requestID: UInt32
    private var reader: BackupReader

    init(source: Backup.Source, requestID: UInt32) {
        self.reader = BackupReader(source: source)
        self.requestID = requestID
    }

    var isFinished: Bool { reader.isFinished }

    mutating func nextFrames(maximum: Int) -> [Frame] {
        reader.nextPieces(maximum: maximum).map { piece in
            switch piece {
            case .chunk(let file, let offset, let bytes):
                return ServerMessage.backupChunk(file: file, offset: offset, data: ByteBuffer(bytes: bytes))
                    .frame(requestID: requestID, flags: .streamContinues)
            case .end(let files):
                return ServerMessage.backupEnd(files).frame(requestID: requestID)
            case .failed(let reason):
                return ServerMessage.error(code: .internalError, message: "backup failed: \(reason)").frame(requestID: requestID)
            }
        }
    }
}
