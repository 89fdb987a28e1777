/** What a pool name may be: the rule of pool files, of paths, and of the pools a batch names. */
export const POOL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const POOL_NAME_RULE = '1-64 characters of A-Za-z0-9._-, starting with a letter or digit';
