enum CompressionDictionaryV1 { static let base64 = "" }
