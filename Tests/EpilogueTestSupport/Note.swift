import Foundation

/// Progress lines on stderr, which is not buffered when swift test's output is piped.
public func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
