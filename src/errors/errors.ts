// The error type every layer throws (a leaf: it imports nothing, so crypto and storage can use
// it without depending on node/).
// An error whose message is meant for the user as-is (one line, says what to do).
export class UserError extends Error {
  code: string;
  constructor(message: string, code = 'EUSER') {
    super(message);
    this.code = code;
  }
}

// Raised when the local key has no authority at a path; maps to EACCES in FUSE.
export class AuthorityError extends UserError {
  constructor(message: string) {
    super(message, 'EACCES');
  }
}

// A WRITE whose declared size differs from what its chunk list holds: the entry lies about its
// content (its author made it so; the chunks themselves verify). Reads of it fail with EIO.
export function sizeMismatch(label: string, declared: number, actual: number): UserError {
  return new UserError(`corrupt content: ${label} declares ${declared} bytes but its content (chunk list) holds ${actual}; the entry that wrote it is faulty (see basefs log), restore an earlier version with basefs revert`, 'EIO');
}
