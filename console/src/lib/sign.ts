// The gateway's request signature (docs/authentication.md): the crypto package's, one copy.
export { signRequest } from '../crypto/request'
