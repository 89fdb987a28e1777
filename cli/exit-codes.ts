/** Exit codes of `resource-pool`, the same for every command, so scripts can branch on them. */
export const EXIT_OK = 0;
/** The answer is "no": an invalid or rejected pool file, or `check` found a disagreement. */
export const EXIT_INVALID = 1;
/** Bad usage, an unreadable file, or a request that could not be signed. */
export const EXIT_USAGE = 2;
/** The API answered with an error (unknown pool, value in use, pool exhausted...). */
export const EXIT_API_ERROR = 3;
/** The API could not be reached, or what answered is not the API. */
export const EXIT_UNREACHABLE = 4;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  invalid or rejected pool file (validate, grow), or check found a disagreement
  2  usage error, unreadable file, or a request that could not be signed
  3  the API answered with an error (e.g. POOL_NOT_FOUND, VALUE_IN_USE, RESOURCE_EXHAUSTED)
  4  the API could not be reached`;
