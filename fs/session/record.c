/*
 * seshfs: records, the files that keep what happened (transcript: input and
 * output in the order seshfs saw them; history: one line per command).
 * Offsets count from the first byte ever recorded; only the newest bytes up
 * to the file's limit are kept, and the dropped start reads as zeros, like a
 * file whose beginning was punched out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../util/log.h"
#include "internal.h"

uint64_t record_start(const struct record *r)
{
	return r->end - r->bytes.len;
}

/* Drops the kept bytes up to and including the first newline: the oldest whole line. */
static void record_drop_line(struct record *r)
{
	struct iovec iov[SESSION_REPLY_IOV];
	size_t scanned = 0;

	while (scanned < r->bytes.len) {
		int count = bytequeue_peek_at(&r->bytes, scanned, r->bytes.len - scanned, iov, SESSION_REPLY_IOV);
		for (int i = 0; i < count; i++) {
			const char *nl = memchr(iov[i].iov_base, '\n', iov[i].iov_len);
			if (nl) {
				bytequeue_drop(&r->bytes, scanned + (size_t)(nl - (const char *)iov[i].iov_base) + 1);
				return;
			}
			scanned += iov[i].iov_len;
		}
	}
	bytequeue_clear(&r->bytes);
}

void record_append(struct record *r, const char *data, size_t len, size_t limit, bool whole_lines)
{
	clock_gettime(CLOCK_REALTIME, &r->mtime);
	r->end += len;
	if (limit == 0)
		return;
	/* Only the newest limit bytes of this piece can be kept anyway. */
	if (len > limit) {
		data += len - limit;
		len = limit;
	}
	if (bytequeue_push(&r->bytes, data, len) < 0) {
		bytequeue_clear(&r->bytes);	/* offsets stay right: the gap reads as dropped */
		log_error("out of memory: a record's kept bytes were dropped");
		return;
	}
	if (r->bytes.len <= limit)
		return;
	bytequeue_drop(&r->bytes, r->bytes.len - limit);
	if (whole_lines)
		record_drop_line(r);
}

void transcript_record(struct session *s, const char *data, size_t len)
{
	record_append(&s->transcript, data, len, sessions.cfg.transcript_size, false);
}

static const struct record *session_record(const struct session *s, enum session_file file)
{
	return file == SESSION_HISTORY ? &s->history.record : &s->transcript;
}

/* pread at any offset, consuming nothing. */
void record_read(struct req *req, struct session_handle *h, size_t size, off_t off, int flags)
{
	static const char zeros[64 * 1024];
	struct iovec iov[SESSION_REPLY_IOV];
	int count = 0;
	(void)flags;

	pthread_mutex_lock(&sessions.lock);
	const struct record *r = session_record(h->s, h->file);
	uint64_t start = record_start(r);
	uint64_t pos = (uint64_t)off;
	uint64_t end = pos + size < r->end ? pos + size : r->end;
	while (pos < end && pos < start && count < SESSION_REPLY_IOV - 1) {
		uint64_t n = (start < end ? start : end) - pos;
		iov[count].iov_base = (void *)zeros;
		iov[count].iov_len = n < sizeof(zeros) ? n : sizeof(zeros);
		pos += iov[count++].iov_len;
	}
	if (pos >= start && pos < end)
		count += bytequeue_peek_at(&r->bytes, pos - start, end - pos, iov + count,
					   SESSION_REPLY_IOV - count);
	reply_data(req, iov, count);
	pthread_mutex_unlock(&sessions.lock);
}

/* SEEK_DATA finds the oldest byte kept, SEEK_HOLE the end. */
void record_lseek(struct req *req, struct session_handle *h, off_t off, int whence)
{
	pthread_mutex_lock(&sessions.lock);
	const struct record *r = session_record(h->s, h->file);
	uint64_t start = record_start(r);
	uint64_t end = r->end;
	pthread_mutex_unlock(&sessions.lock);
	if (off < 0 || (whence != SEEK_DATA && whence != SEEK_HOLE))
		reply_err(req, EINVAL);
	else if ((uint64_t)off >= end)
		reply_err(req, ENXIO);
	else if (whence == SEEK_DATA)
		reply_offset(req, (uint64_t)off > start ? off : (off_t)start);
	else
		reply_offset(req, (uint64_t)off < start ? off : (off_t)end);
}

void record_stat(const struct session *s, enum session_file file, struct stat *st)
{
	const struct record *r = session_record(s, file);

	st->st_size = (off_t)r->end;
	if (r->end > 0)
		st->st_mtim = r->mtime;
}
