import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import kafkajs from 'kafkajs'

/*
 * Compression of the internal topics' record batches. kafkajs ships GZIP only and leaves ZSTD to a codec
 * the application registers; Node's own zlib has zstd (no dependency). zstd at level 1 compresses the
 * service's JSON and Avro about as well as gzip and five times faster, and decompresses seven times
 * faster (BENCHMARKS.md). It runs on the calling thread, not on libuv's thread pool: chDB's queries
 * hold the pool's threads for tens of milliseconds each, and a batch queued behind them waited longer
 * than compressing it takes (about 2 µs per transaction's records in all) — the alert path crosses
 * several of them. Kafka's Java clients and brokers
 * read zstd since 2.1; kafkajs reads it in every process that imported this module (kafka/client.ts
 * does).
 */

// kafkajs is CommonJS, and Node's ESM loader does not find these two among its named exports.
const { CompressionCodecs, CompressionTypes } = kafkajs

const LEVEL_1 = { params: { [constants.ZSTD_c_compressionLevel]: 1 } }

const zstd = {
  compress: async (encoder: { buffer: Buffer }): Promise<Buffer> => zstdCompressSync(encoder.buffer, LEVEL_1),
  decompress: async (buffer: Buffer): Promise<Buffer> => zstdDecompressSync(buffer),
}
CompressionCodecs[CompressionTypes.ZSTD] = () => zstd

/** kafkajs's compression type ids, as a value (see above). */
export { CompressionTypes }

/** How the service compresses what it writes to its internal topics (`KAFKA_INTERNAL_COMPRESSION`). */
export type InternalCompression = 'zstd' | 'gzip' | 'none'

export function compressionType(c: InternalCompression): kafkajs.CompressionTypes {
  switch (c) {
    case 'zstd':
      return CompressionTypes.ZSTD
    case 'gzip':
      return CompressionTypes.GZIP
    case 'none':
      return CompressionTypes.None
  }
}
