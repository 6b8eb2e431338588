import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { DocumentNode, Token } from 'graphql';

/** Memory the parsed documents kept for reuse may take: Apollo's own default budget. */
export const DOCUMENT_CACHE_BYTES = 30 * 2 ** 20;

/** About what one token of a parsed document keeps (the object, its value and its links). */
const TOKEN_BYTES = 100;

/**
 * What a parsed document keeps in memory: its source text and every token read from it, comments
 * included, which its location links. Apollo's default cache weighs a document by its JSON, which
 * leaves both out: `{ __typename }` after 500 kB of `#` lines weighed about 200 bytes and kept 21 MB,
 * so anyone, without a token, could fill the server's memory with documents that differ only in a comment.
 */
export function retainedSize(document: DocumentNode): number {
  let tokens = 0;
  for (let token: Token | null | undefined = document.loc?.startToken; token; token = token.next) tokens++;
  return 2 * (document.loc?.source.body.length ?? 0) + TOKEN_BYTES * tokens + InMemoryLRUCache.sizeCalculation(document);
}

/** The parsed and validated documents kept for reuse, within DOCUMENT_CACHE_BYTES of memory; one larger is parsed each time. */
export const documentCache = () => new InMemoryLRUCache<DocumentNode>({ maxSize: DOCUMENT_CACHE_BYTES, sizeCalculation: retainedSize });
