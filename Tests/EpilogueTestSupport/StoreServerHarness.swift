import EpilogueProtocol
import EpilogueModel
import EpilogueServerKit
import EpilogueStoreClient
import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import EpilogueStorage
@testable import EpilogueStore

/// Runs a store server on an ephemeral port for the duration of `body`.
public func withStoreServer<T: Sendable>(
    directory: String, secret: String? = nil, maximumConnections: Int = 64, idleTimeout: TimeAmount = .seconds(30),
    dataset: Bool = false, _ body: @Sendable (Int, RecordStore) async throws -> T
) async throws -> T {
    let store = try await TestSupport.openStore(directory, dataset: dataset)
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = StoreServer(
        configuration: .init(host: "127.0.0.1", port: 0, secret: secret, maximumConnections: maximumConnections, idleTimeout: idleTimeout),
        store: store, logger: TestSupport.logger,
        onListening: { address in continuation.yield(address.port ?? 0) })
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await server.run(); return nil }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        defer { group.cancelAll(); store.close() }
        let result = try await body(port, store)
        return result
    }
}

/// A started one-connection `StoreClient` of the store at `port` for the duration of `body`, its
/// connection awaited (bounded) so the first request does not race it.
public func withStoreClient<T: Sendable>(port: Int, _ body: (StoreClient) async throws -> T) async throws -> T {
    try await StoreClient.withClient(configuration: .init(host: "127.0.0.1", port: port, connections: 1, requestTimeout: .seconds(30)),
                                     clientName: "test", logger: TestSupport.logger) { client in
        _ = await client.waitUntilConnected(timeout: .seconds(3))
        return try await body(client)
    }
}
