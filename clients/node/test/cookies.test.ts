// Reading the credential from an end user's request.
import assert from "node:assert/strict";
import { test } from "node:test";

import { readBearer, readCookie } from "../src/index.js";

test("readCookie finds the named cookie, first one wins, empty is none", () => {
  assert.equal(readCookie("a=1; sesame=gAAAA; b=2", "sesame"), "gAAAA");
  assert.equal(readCookie("sesame=first; sesame=second", "sesame"), "first");
  assert.equal(readCookie('sesame="quoted"', "sesame"), "quoted");
  assert.equal(readCookie("xsesame=1; sesame_=2", "sesame"), null);
  assert.equal(readCookie("sesame=", "sesame"), null);
  assert.equal(readCookie("novalue; sesame=v=with=equals", "sesame"), "v=with=equals");
  assert.equal(readCookie(undefined, "sesame"), null);
  assert.equal(readCookie("__Host-sesame=x", "__Host-sesame"), "x");
});

test("readBearer takes one token after the scheme, any case", () => {
  assert.equal(readBearer("Bearer abc"), "abc");
  assert.equal(readBearer("bearer   abc  "), "abc");
  assert.equal(readBearer("Basic abc"), null);
  assert.equal(readBearer("Bearer a b"), null);
  assert.equal(readBearer("Bearer"), null);
  assert.equal(readBearer(null), null);
});
