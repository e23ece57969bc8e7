/* resolver._udp_batch: batched UDP I/O for the server's reader callback (Linux).
 *
 * Why C: recvmmsg(2) and sendmmsg(2) move many datagrams per system call, and the
 * standard library has no binding for either. Everything else stays in Python: each
 * datagram is handed to the same handler the Python path calls (Pipeline.handle), and a
 * query that answers later goes back to Python's forwarder with its client's address.
 *
 * One Batch per UDP socket. Batch.drain(handle, later, error, now, limit, wait):
 *   - reads up to `count` datagrams per recvmmsg (MSG_DONTWAIT), up to `limit` in all, so
 *     that other callbacks of the event loop (TCP, upstream replies) get their turn;
 *   - calls handle(data: bytes, host: str, now) for each; bytes = an answer now, None =
 *     no answer, anything else goes to later(result, address) at once (before the next
 *     datagram is handled: the handler may reuse its objects);
 *   - an exception from handle or later is given to error(exception) and the batch goes
 *     on; an exception that is not an Exception (KeyboardInterrupt, SystemExit) ends the
 *     call once the answers collected so far are sent, and is raised;
 *   - sends each read's answers with one sendmmsg: a partial send is continued, EAGAIN or
 *     ENOBUFS drops the rest (counted), any other error skips one answer (counted), EINTR
 *     is retried; it never blocks.
 * A datagram larger than a slot (MSG_TRUNC) is handed over cut to the slot, as
 * recvfrom_into does with a short buffer; the slots are 65,535 bytes by default, more
 * than any UDP payload, so only a smaller `size` (tests) cuts anything.
 *
 * Built optionally by setup.py; SOURCE_SHA256 is the hash of this file at build time, so
 * that resolver.udp_batch can tell a stale build from a current one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef UDP_BATCH_SOURCE_SHA256
#define UDP_BATCH_SOURCE_SHA256 ""
#endif

#define MAX_COUNT 1024
#define MAX_SIZE 65535
#define MAX_FAULTS 64
#define MAX_EINTR_RETRIES 100
/* Slots are staggered by a cache line, so that the first bytes of every slot do not all
 * fall into the same cache set (a 64 KiB stride would). */
#define SLOT_PAD 64

typedef struct {
    PyObject_HEAD
    int fd;
    unsigned int count;
    size_t size;
    size_t stride;
    char *buffers;
    struct sockaddr_storage *addresses;
    struct iovec *receive_iov;
    struct mmsghdr *received;
    struct iovec *send_iov;
    struct mmsghdr *outgoing;
    PyObject **answers;
    /* the last client's address and its text: most datagrams of a burst come from few
     * clients, and the text is the same object every time */
    int last_family;
    unsigned char last_address[16];
    PyObject *last_host;
    int busy;
    /* counters, read-only from Python */
    unsigned long long datagrams;
    unsigned long long answers_sent;
    unsigned long long send_dropped;
    unsigned long long send_errors;
    unsigned long long receive_errors;
    unsigned long long truncated;
    unsigned long long handler_errors;
    /* fault injection for tests: each entry stands for one system call's outcome, a
     * negative errno (the call fails) or a positive cap on the messages it moves */
    int send_faults[MAX_FAULTS];
    int send_fault_count;
    int send_fault_next;
    int receive_faults[MAX_FAULTS];
    int receive_fault_count;
    int receive_fault_next;
} Batch;

static void
Batch_dealloc(Batch *self)
{
    if (self->answers != NULL) {
        for (unsigned int i = 0; i < self->count; i++) {
            Py_CLEAR(self->answers[i]);
        }
    }
    Py_CLEAR(self->last_host);
    free(self->buffers);
    PyMem_Free(self->addresses);
    PyMem_Free(self->receive_iov);
    PyMem_Free(self->received);
    PyMem_Free(self->send_iov);
    PyMem_Free(self->outgoing);
    PyMem_Free(self->answers);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Batch_init(Batch *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fd", "count", "size", NULL};
    int fd;
    unsigned int count = 64;
    Py_ssize_t size = MAX_SIZE;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "i|In:Batch", keywords,
                                     &fd, &count, &size)) {
        return -1;
    }
    if (self->buffers != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Batch is already initialised");
        return -1;
    }
    if (fd < 0) {
        PyErr_SetString(PyExc_ValueError, "fd must be a file descriptor (>= 0)");
        return -1;
    }
    if (count < 1 || count > MAX_COUNT) {
        PyErr_Format(PyExc_ValueError, "count must be from 1 to %d", MAX_COUNT);
        return -1;
    }
    if (size < 1 || size > MAX_SIZE) {
        PyErr_Format(PyExc_ValueError, "size must be from 1 to %d", MAX_SIZE);
        return -1;
    }
    self->fd = fd;
    self->count = count;
    self->size = (size_t)size;
    self->stride = ((size_t)size + SLOT_PAD - 1) / SLOT_PAD * SLOT_PAD + SLOT_PAD;
    /* malloc, not calloc or Python's allocator: the kernel hands out pages as they are
     * first written, and a slot's first page is all a query touches */
    self->buffers = malloc(self->stride * count);
    self->addresses = PyMem_Calloc(count, sizeof(struct sockaddr_storage));
    self->receive_iov = PyMem_Calloc(count, sizeof(struct iovec));
    self->received = PyMem_Calloc(count, sizeof(struct mmsghdr));
    self->send_iov = PyMem_Calloc(count, sizeof(struct iovec));
    self->outgoing = PyMem_Calloc(count, sizeof(struct mmsghdr));
    self->answers = PyMem_Calloc(count, sizeof(PyObject *));
    if (self->buffers == NULL || self->addresses == NULL || self->receive_iov == NULL
        || self->received == NULL || self->send_iov == NULL || self->outgoing == NULL
        || self->answers == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (unsigned int i = 0; i < count; i++) {
        self->receive_iov[i].iov_base = self->buffers + (size_t)i * self->stride;
        self->receive_iov[i].iov_len = self->size;
        self->received[i].msg_hdr.msg_iov = &self->receive_iov[i];
        self->received[i].msg_hdr.msg_iovlen = 1;
        self->outgoing[i].msg_hdr.msg_iov = &self->send_iov[i];
        self->outgoing[i].msg_hdr.msg_iovlen = 1;
    }
    return 0;
}

/* --- system calls, with the tests' faults ------------------------------------------------ */

static int
next_fault(int *faults, int count, int *next)
{
    if (*next >= count) {
        return 0;
    }
    return faults[(*next)++];
}

static int
receive_some(Batch *self, unsigned int want, int wait)
{
    int fault = next_fault(self->receive_faults, self->receive_fault_count,
                           &self->receive_fault_next);
    if (fault < 0) {
        errno = -fault;
        return -1;
    }
    if (fault > 0 && (unsigned int)fault < want) {
        want = (unsigned int)fault;
    }
    for (unsigned int i = 0; i < want; i++) {
        struct msghdr *header = &self->received[i].msg_hdr;
        header->msg_name = &self->addresses[i];
        header->msg_namelen = sizeof(struct sockaddr_storage);
        header->msg_control = NULL;
        header->msg_controllen = 0;
        header->msg_flags = 0;
        self->received[i].msg_len = 0;
    }
    int got;
    if (wait) {
        Py_BEGIN_ALLOW_THREADS
        got = recvmmsg(self->fd, self->received, want, MSG_WAITFORONE, NULL);
        Py_END_ALLOW_THREADS
    }
    else {
        got = recvmmsg(self->fd, self->received, want, MSG_DONTWAIT, NULL);
    }
    return got;
}

static int
send_some(Batch *self, unsigned int first, unsigned int want)
{
    int fault = next_fault(self->send_faults, self->send_fault_count,
                           &self->send_fault_next);
    if (fault < 0) {
        errno = -fault;
        return -1;
    }
    if (fault > 0 && (unsigned int)fault < want) {
        want = (unsigned int)fault;
    }
    return sendmmsg(self->fd, self->outgoing + first, want, MSG_DONTWAIT);
}

/* Sends answers 0..n-1 and lets go of them. Never blocks; never raises. */
static void
send_answers(Batch *self, unsigned int n)
{
    unsigned int next = 0;
    int interrupted = 0;
    while (next < n) {
        int sent = send_some(self, next, n - next);
        if (sent > 0) {
            self->answers_sent += (unsigned int)sent;
            next += (unsigned int)sent;
            continue;
        }
        if (sent < 0 && errno == EINTR && interrupted++ < MAX_EINTR_RETRIES) {
            continue;
        }
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS
                         || errno == EINTR)) {
            /* a full send buffer: like a lost packet, as the Python path's sendto */
            self->send_dropped += n - next;
            break;
        }
        /* this answer only (an address that cannot be reached, ...); go on after it */
        self->send_errors++;
        next++;
    }
    for (unsigned int i = 0; i < n; i++) {
        Py_CLEAR(self->answers[i]);
    }
}

/* --- addresses ---------------------------------------------------------------------------- */

/* The client's address as text ("192.0.2.1", "2001:db8::1"), as the socket module writes
 * it: a new reference, or NULL with an exception. */
static PyObject *
host_text(Batch *self, const struct sockaddr_storage *address)
{
    const void *raw;
    size_t length;
    if (address->ss_family == AF_INET) {
        raw = &((const struct sockaddr_in *)address)->sin_addr;
        length = 4;
    }
    else if (address->ss_family == AF_INET6) {
        raw = &((const struct sockaddr_in6 *)address)->sin6_addr;
        length = 16;
    }
    else {
        PyErr_Format(PyExc_ValueError, "address family %d is not IPv4 or IPv6",
                     (int)address->ss_family);
        return NULL;
    }
    if (self->last_host != NULL && self->last_family == address->ss_family
        && memcmp(self->last_address, raw, length) == 0) {
        Py_INCREF(self->last_host);
        return self->last_host;
    }
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(address->ss_family, raw, text, sizeof(text)) == NULL) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *host = PyUnicode_FromString(text);
    if (host == NULL) {
        return NULL;
    }
    Py_XSETREF(self->last_host, Py_NewRef(host));
    self->last_family = address->ss_family;
    memcpy(self->last_address, raw, length);
    return host;
}

/* (host, port) or (host, port, flowinfo, scope_id): what socket.recvfrom returns, and
 * what sendto takes back. */
static PyObject *
address_tuple(Batch *self, const struct sockaddr_storage *address)
{
    PyObject *host = host_text(self, address);
    if (host == NULL) {
        return NULL;
    }
    if (address->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
        return Py_BuildValue("(Ni)", host, (int)ntohs(v4->sin_port));
    }
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
    return Py_BuildValue("(NiII)", host, (int)ntohs(v6->sin6_port),
                         (unsigned int)ntohl(v6->sin6_flowinfo),
                         (unsigned int)v6->sin6_scope_id);
}

/* --- one datagram --------------------------------------------------------------------------- */

/* The exception just raised, handed to `error`. Returns -1 if the call must stop (an
 * exception that is not an Exception; it stays raised), else 0 with none raised. */
static int
report(Batch *self, PyObject *error)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    if (type == NULL) {
        PyErr_SetString(PyExc_SystemError, "a call failed without an exception");
        return -1;
    }
    PyErr_NormalizeException(&type, &value, &traceback);
    if (!PyErr_GivenExceptionMatches(type, PyExc_Exception)) {
        PyErr_Restore(type, value, traceback);
        return -1;
    }
    if (traceback != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    self->handler_errors++;
    PyObject *result = PyObject_CallOneArg(error, value);
    Py_DECREF(type);
    Py_DECREF(value);
    Py_XDECREF(traceback);
    if (result != NULL) {
        Py_DECREF(result);
        return 0;
    }
    /* the error handler failed too: say so without losing the batch, unless it is
     * an exception that must end the call */
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return -1;
    }
    PyErr_WriteUnraisable(error);
    return 0;
}

/* Handles datagram i; an answer goes to answers[*answered]. -1: stop (raised). */
static int
handle_one(Batch *self, unsigned int i, PyObject *handle, PyObject *later,
           PyObject *error, PyObject *now, unsigned int *answered)
{
    struct mmsghdr *message = &self->received[i];
    if (message->msg_hdr.msg_flags & MSG_TRUNC) {
        self->truncated++;
    }
    PyObject *data = PyBytes_FromStringAndSize(self->receive_iov[i].iov_base,
                                               (Py_ssize_t)message->msg_len);
    if (data == NULL) {
        return report(self, error);
    }
    PyObject *host = host_text(self, &self->addresses[i]);
    if (host == NULL) {
        Py_DECREF(data);
        return report(self, error);
    }
    PyObject *args[3] = {data, host, now};
    PyObject *result = PyObject_Vectorcall(handle, args, 3, NULL);
    Py_DECREF(data);
    Py_DECREF(host);
    if (result == NULL) {
        return report(self, error);
    }
    if (result == Py_None) {
        Py_DECREF(result);
        return 0;
    }
    if (PyBytes_Check(result)) {
        unsigned int j = (*answered)++;
        self->answers[j] = result;  /* the reference is kept until it is sent */
        self->send_iov[j].iov_base = PyBytes_AS_STRING(result);
        self->send_iov[j].iov_len = (size_t)PyBytes_GET_SIZE(result);
        struct msghdr *header = &self->outgoing[j].msg_hdr;
        header->msg_name = &self->addresses[i];
        header->msg_namelen = message->msg_hdr.msg_namelen;
        header->msg_control = NULL;
        header->msg_controllen = 0;
        header->msg_flags = 0;
        return 0;
    }
    PyObject *address = address_tuple(self, &self->addresses[i]);
    if (address == NULL) {
        Py_DECREF(result);
        return report(self, error);
    }
    PyObject *later_args[2] = {result, address};
    PyObject *done = PyObject_Vectorcall(later, later_args, 2, NULL);
    Py_DECREF(result);
    Py_DECREF(address);
    if (done == NULL) {
        return report(self, error);
    }
    Py_DECREF(done);
    return 0;
}

/* --- drain ---------------------------------------------------------------------------------- */

PyDoc_STRVAR(drain_doc,
"drain(handle, later, error, now, limit=256, wait=False) -> int\n\n"
"Read and handle up to `limit` datagrams, answering in batches; returns how many were\n"
"read. `wait`: block until the first datagram (a blocking socket; tests and tools).");

static PyObject *
Batch_drain(Batch *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 4 || nargs > 6) {
        PyErr_SetString(PyExc_TypeError,
                        "drain(handle, later, error, now, limit=256, wait=False)");
        return NULL;
    }
    if (self->buffers == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Batch is not initialised");
        return NULL;
    }
    PyObject *handle = args[0], *later = args[1], *error = args[2], *now = args[3];
    if (!PyCallable_Check(handle) || !PyCallable_Check(later) || !PyCallable_Check(error)) {
        PyErr_SetString(PyExc_TypeError, "handle, later and error must be callable");
        return NULL;
    }
    Py_ssize_t limit = 256;
    if (nargs > 4) {
        limit = PyLong_AsSsize_t(args[4]);
        if (limit == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (limit < 1) {
            PyErr_SetString(PyExc_ValueError, "limit must be at least 1");
            return NULL;
        }
    }
    int wait = 0;
    if (nargs > 5) {
        wait = PyObject_IsTrue(args[5]);
        if (wait < 0) {
            return NULL;
        }
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "drain is already running on this Batch");
        return NULL;
    }
    self->busy = 1;
    Py_ssize_t total = 0;
    int failed = 0;
    int interrupted = 0;
    while (total < limit && !failed) {
        unsigned int want = self->count;
        if ((Py_ssize_t)want > limit - total) {
            want = (unsigned int)(limit - total);
        }
        int got = receive_some(self, want, wait && total == 0);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            if (errno == EINTR) {
                /* PEP 475: run the signal handlers; retry unless one raised */
                if (PyErr_CheckSignals() < 0) {
                    failed = 1;
                    break;
                }
                if (interrupted++ < MAX_EINTR_RETRIES) {
                    continue;
                }
                break;
            }
            /* e.g. an ICMP error queued on the socket: counted against the limit, so
             * that a stream of them cannot hold the loop */
            self->receive_errors++;
            total++;
            continue;
        }
        if (got == 0) {
            break;
        }
        total += got;
        self->datagrams += (unsigned int)got;
        unsigned int answered = 0;
        for (unsigned int i = 0; i < (unsigned int)got; i++) {
            if (handle_one(self, i, handle, later, error, now, &answered) < 0) {
                failed = 1;
                break;
            }
        }
        if (answered > 0) {
            /* the answers collected so far go out even when the call ends in an error */
            PyObject *type, *value, *traceback;
            PyErr_Fetch(&type, &value, &traceback);
            send_answers(self, answered);
            PyErr_Restore(type, value, traceback);
        }
        if ((unsigned int)got < want) {
            break;  /* the socket is empty */
        }
    }
    self->busy = 0;
    if (failed) {
        return NULL;
    }
    return PyLong_FromSsize_t(total);
}

/* --- test hooks ------------------------------------------------------------------------------- */

static int
read_faults(PyObject *sequence, int *into, int *count, const char *what)
{
    PyObject *items = PySequence_Fast(sequence, what);
    if (items == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    if (n > MAX_FAULTS) {
        Py_DECREF(items);
        PyErr_Format(PyExc_ValueError, "%s: at most %d entries", what, MAX_FAULTS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long value = PyLong_AsLong(PySequence_Fast_GET_ITEM(items, i));
        if (value == -1 && PyErr_Occurred()) {
            Py_DECREF(items);
            return -1;
        }
        if (value < -4095 || value > MAX_COUNT) {
            Py_DECREF(items);
            PyErr_Format(PyExc_ValueError, "%s: %ld is neither an errno nor a cap", what,
                         value);
            return -1;
        }
        if (value == 0) {
            Py_DECREF(items);
            PyErr_Format(PyExc_ValueError, "%s: 0 means nothing; use a negative errno or "
                         "a positive cap", what);
            return -1;
        }
        into[i] = (int)value;
    }
    *count = (int)n;
    Py_DECREF(items);
    return 0;
}

PyDoc_STRVAR(inject_doc,
"inject_faults(receive=(), send=()) -> None\n\n"
"For tests: the next system calls' outcomes, one entry each, then real ones again.\n"
"A negative number fails the call with that errno (-errno.EAGAIN); a positive one caps\n"
"the datagrams it moves (a partial sendmmsg).");

static PyObject *
Batch_inject_faults(Batch *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"receive", "send", NULL};
    PyObject *receive = NULL, *send = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:inject_faults", keywords,
                                     &receive, &send)) {
        return NULL;
    }
    int receive_faults[MAX_FAULTS], send_faults[MAX_FAULTS];
    int receive_count = 0, send_count = 0;
    if (receive != NULL && read_faults(receive, receive_faults, &receive_count,
                                       "receive faults") < 0) {
        return NULL;
    }
    if (send != NULL && read_faults(send, send_faults, &send_count, "send faults") < 0) {
        return NULL;
    }
    memcpy(self->receive_faults, receive_faults, sizeof(receive_faults));
    self->receive_fault_count = receive_count;
    self->receive_fault_next = 0;
    memcpy(self->send_faults, send_faults, sizeof(send_faults));
    self->send_fault_count = send_count;
    self->send_fault_next = 0;
    Py_RETURN_NONE;
}

static PyMethodDef Batch_methods[] = {
    {"drain", (PyCFunction)(void (*)(void))Batch_drain, METH_FASTCALL, drain_doc},
    {"inject_faults", (PyCFunction)(void (*)(void))Batch_inject_faults,
     METH_VARARGS | METH_KEYWORDS, inject_doc},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Batch_members[] = {
    {"fd", T_INT, offsetof(Batch, fd), READONLY, "the socket read"},
    {"count", T_UINT, offsetof(Batch, count), READONLY, "datagrams per system call"},
    {"datagrams", T_ULONGLONG, offsetof(Batch, datagrams), READONLY,
     "datagrams read"},
    {"answers_sent", T_ULONGLONG, offsetof(Batch, answers_sent), READONLY,
     "answers sent by sendmmsg"},
    {"send_dropped", T_ULONGLONG, offsetof(Batch, send_dropped), READONLY,
     "answers dropped because the send buffer was full (EAGAIN, ENOBUFS)"},
    {"send_errors", T_ULONGLONG, offsetof(Batch, send_errors), READONLY,
     "answers the kernel refused for another reason (skipped one by one)"},
    {"receive_errors", T_ULONGLONG, offsetof(Batch, receive_errors), READONLY,
     "failed reads other than EAGAIN and EINTR (queued ICMP errors, ...)"},
    {"truncated", T_ULONGLONG, offsetof(Batch, truncated), READONLY,
     "datagrams larger than a slot, handed over cut"},
    {"handler_errors", T_ULONGLONG, offsetof(Batch, handler_errors), READONLY,
     "exceptions given to `error`"},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(Batch_doc,
"Batch(fd, count=64, size=65535)\n\n"
"recvmmsg/sendmmsg on one UDP socket (IPv4 or IPv6): `count` datagrams per system\n"
"call, each read into a slot of `size` bytes. The socket stays the caller's.");

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "resolver._udp_batch.Batch",
    .tp_doc = Batch_doc,
    .tp_basicsize = sizeof(Batch),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Batch_init,
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_methods = Batch_methods,
    .tp_members = Batch_members,
};

static struct PyModuleDef udp_batch_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "resolver._udp_batch",
    .m_doc = "Batched UDP I/O (recvmmsg/sendmmsg) for dnsfence's reader callback.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__udp_batch(void)
{
    if (PyType_Ready(&BatchType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&udp_batch_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Batch", (PyObject *)&BatchType) < 0
        || PyModule_AddStringConstant(module, "SOURCE_SHA256", UDP_BATCH_SOURCE_SHA256) < 0
        || PyModule_AddIntConstant(module, "MAX_COUNT", MAX_COUNT) < 0
        || PyModule_AddIntConstant(module, "MAX_SIZE", MAX_SIZE) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
