/*
 * seshfs: the transcript, input and output of a session in the order seshfs
 * saw them. Offsets count from the first byte ever recorded; only the newest
 * transcript_size bytes are kept, and the dropped start reads as zeros, like
 * a file whose beginning was punched out.
 */
#include <errno.h>
#include <stdio.h>

#include "../util/log.h"
#include "internal.h"

uint64_t transcript_start(const struct session *s)
{
	return s->transcript_end - s->transcript.len;
}

void transcript_record(struct session *s, const char *data, size_t len)
{
	size_t limit = sessions.cfg.transcript_size;

	if (limit == 0)
		return;
	/* Only the newest limit bytes of this piece can be kept anyway. */
	s->transcript_end += len;
	if (len > limit) {
		data += len - limit;
		len = limit;
	}
	if (bytequeue_push(&s->transcript, data, len) < 0) {
		bytequeue_clear(&s->transcript);	/* offsets stay right: the gap reads as dropped */
		log_error("session %s: out of memory, transcript dropped", s->name);
	}
	if (s->transcript.len > limit)
		bytequeue_drop(&s->transcript, s->transcript.len - limit);
	clock_gettime(CLOCK_REALTIME, &s->transcript_mtime);
}

/* pread at any offset, consuming nothing. */
void transcript_read(struct req *req, struct session_handle *h, size_t size, off_t off, int flags)
{
	static const char zeros[64 * 1024];
	struct session *s = h->s;
	struct iovec iov[SESSION_REPLY_IOV];
	int count = 0;
	(void)flags;

	pthread_mutex_lock(&sessions.lock);
	uint64_t start = transcript_start(s);
	uint64_t pos = (uint64_t)off;
	uint64_t end = pos + size < s->transcript_end ? pos + size : s->transcript_end;
	while (pos < end && pos < start && count < SESSION_REPLY_IOV - 1) {
		uint64_t n = (start < end ? start : end) - pos;
		iov[count].iov_base = (void *)zeros;
		iov[count].iov_len = n < sizeof(zeros) ? n : sizeof(zeros);
		pos += iov[count++].iov_len;
	}
	if (pos >= start && pos < end)
		count += bytequeue_peek_at(&s->transcript, pos - start, end - pos, iov + count,
					   SESSION_REPLY_IOV - count);
	reply_data(req, iov, count);
	pthread_mutex_unlock(&sessions.lock);
}

/* SEEK_DATA finds the oldest byte kept, SEEK_HOLE the end. */
void transcript_lseek(struct req *req, struct session_handle *h, off_t off, int whence)
{
	pthread_mutex_lock(&sessions.lock);
	uint64_t start = transcript_start(h->s);
	uint64_t end = h->s->transcript_end;
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

void transcript_stat(const struct session *s, enum session_file file, struct stat *st)
{
	(void)file;
	st->st_size = (off_t)s->transcript_end;
	if (s->transcript_end > 0)
		st->st_mtim = s->transcript_mtime;
}
