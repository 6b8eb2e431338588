import { throttledClientOf } from '../../src/http/client-address';

describe('the client a throttle counts', () => {
  it('is an IPv4 address itself, also when written as an IPv4-mapped IPv6 address', () => {
    expect(throttledClientOf('203.0.113.5')).toBe('203.0.113.5');
    expect(throttledClientOf('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(throttledClientOf('::FFFF:cb00:7105')).toBe('203.0.113.5');
  });

  it('is the /64 of any other IPv6 address, written one way however the address was', () => {
    expect(throttledClientOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(throttledClientOf('2001:0DB8:0001:0002::ffff')).toBe('2001:db8:1:2::/64');
    // Zeros ending the prefix join the host's: one run, written `::`; a shorter run inside the prefix stays.
    expect(throttledClientOf('2001:db8:0:0:1::')).toBe('2001:db8::/64');
    expect(throttledClientOf('2001:0:0:2::9')).toBe('2001:0:0:2::/64');
    expect(throttledClientOf('::1')).toBe('::/64');
    expect(throttledClientOf('fe80::1%eth0')).toBe('fe80::/64');
  });

  it('keeps what is no address as it is', () => {
    expect(throttledClientOf('unknown')).toBe('unknown');
  });
});
