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
