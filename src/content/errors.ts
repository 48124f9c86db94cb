// The chunk store's errors: content this node does not have (fetch it from a peer) and stored
// bytes that fail their hash (dropped, so they read as missing and get fetched again).
export class MissingChunksError extends Error {
  missing: string[];
  constructor(missing: string[], label?: string) {
    const what = missing.length === 1 ? `chunk ${missing[0]}` : `${missing.length} chunks (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''})`;
    super(`missing ${what}${label ? ` of ${label}` : ''}: not stored on this node`);
    this.name = 'MissingChunksError';
    this.missing = missing;
  }
}

export class CorruptChunkError extends Error {
  chunkId: string;
  label: string | undefined;
  constructor(chunkId: string, label?: string, detail = 'stored bytes do not match their hash') {
    super(`corrupt chunk ${chunkId}${label ? ` in ${label}` : ''}: ${detail}`);
    this.name = 'CorruptChunkError';
    this.chunkId = chunkId;
    this.label = label;
  }
}
