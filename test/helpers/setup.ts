import { afterAll, afterEach, beforeEach } from 'vitest';
import { beginTestScope, endFileScope, endTestScope } from './cleanup.ts';

// Vitest runs "after" hooks in reverse order of registration, so these run after the test
// file's own afterEach and afterAll hooks, once those are done with the resources.
beforeEach(() => beginTestScope());
afterEach(() => endTestScope());
afterAll(() => endFileScope());
