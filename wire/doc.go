// Package wire defines WhisperNet's line protocol: the message types that seeds
// and peers exchange, their text form, and the hard limits every decoder
// enforces before it allocates.
//
// Every message is one UTF-8 line terminated by '\n'. Fields are separated by
// ':' and the verb comes first, so a person can talk to a seed with a plain TCP
// client:
//
//	register:127.0.0.1:5000      ->  registered successfully
//	peer list                    ->  peer list:127.0.0.1#5000:127.0.0.1#5001
//	Dead Node:127.0.0.1:5001:1732530000.25:127.0.0.1:5000  ->  ok:removed 127.0.0.1:5001
//	garbage                      ->  error:unknown verb "garbage"
//
// IPv6 addresses are written in brackets ([::1]) wherever an address appears,
// so that ':' keeps separating fields. The last field of a gossip line is free
// text and may itself contain ':'.
//
// Parse turns a line into a Message and Format (or Message.Append) turns it
// back; Parse(Format(m)) == m for every valid m. A LineReader reads lines of
// bounded length from a stream and refuses an over-long line without
// buffering it whole. docs/protocol.md documents every verb with examples.
package wire
