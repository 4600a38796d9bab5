// The C library, imported once for the package: a module that makes system calls (open, pwrite,
// fsync, rename, sockets…) imports EpilogueShared instead of repeating the platform switch.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#elseif canImport(Darwin)
@_exported import Darwin
#endif
